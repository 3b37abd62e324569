#!/bin/sh
# dkenv: forbid package scripts from starting services during the image build.
exit 101
