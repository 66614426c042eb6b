pytest_plugins = [
    "fixtures.sshnodes",
]
