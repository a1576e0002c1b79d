"""What travels on the station bus (NATS JetStream): one frame report per transfer frame a ground
station received, with its quality (:mod:`protocols.bus.frame_report`)."""
