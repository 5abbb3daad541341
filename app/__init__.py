"""packserve: serve any Git ref of a repository over HTTP straight out of its packfiles."""

__version__ = "0.1.0"
