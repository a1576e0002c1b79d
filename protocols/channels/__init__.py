"""Channel definition files shipped with paleblue (TOML, see :mod:`protocols.channel_file`)."""
