"""Hardware profiles and the latency, energy and memory estimates made from them."""
