"""What several test modules share: a small store and its resources, a load, a model build,
an export, and the documented commands run as processes. Test modules import these, never
each other."""
