pytest_plugins = [
    "fixtures.sshnodes",
    "fixtures.dbservers",
    "fixtures.lab",
    "fixtures.wheelenv",
]
