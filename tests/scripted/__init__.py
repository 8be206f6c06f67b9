"""A scripted HTTP/2 client with misbehaviour knobs: the suite's negative controls."""
