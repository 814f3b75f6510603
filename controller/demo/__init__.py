"""`loaxa demo`: a whole commune on the embedded defaults, and its network impairments."""
