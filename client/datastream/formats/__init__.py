"""Record formats for message connectors (``pyflink.datastream.formats``)."""
