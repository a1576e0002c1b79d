"""Several stations' frames merged into one pass: the pure core (:mod:`.best_frame`) and the
process loop that feeds it from the bus into the normal ground chain (:mod:`.bus_merge`)."""
