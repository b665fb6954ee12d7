"""Motion-capture validation helpers: BVH forward kinematics and a virtual side-view camera."""
