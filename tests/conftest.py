pytest_plugins = [
    "fixtures.sshnodes",
    "fixtures.dbservers",
]
