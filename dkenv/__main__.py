from dkenv.cli import main

main()
