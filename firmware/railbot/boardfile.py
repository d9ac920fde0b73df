"""What every board data file's loader shares: its error, reading the file, and failing with the
file and the key named."""


class ConfigError(Exception):
    pass


def fail(path, key, msg):
    if key:
        raise ConfigError(path + ": " + key + ": " + msg)
    raise ConfigError(path + ": " + msg)


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError as e:
        raise ConfigError(path + ": cannot read: " + str(e))
    except UnicodeError:
        raise ConfigError(path + ": cannot read: not UTF-8 text")
