from platform_utils.naming import schema


def test_schema():
    assert schema("bronze") == "retail_bronze"
