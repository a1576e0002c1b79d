"""Channel definition files shipped with paleblue (TOML, see :mod:`protocols.link.channel_file`)."""
