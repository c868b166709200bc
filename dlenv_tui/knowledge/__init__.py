"""Knowledge that refreshes itself: fetched nvidia/cuda tags and PyTorch wheels over the shipped snapshot."""
