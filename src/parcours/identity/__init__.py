"""Identity stitching: recognise the same customer across channels and devices."""

from parcours.identity.stitch import merges, stitch, unmerge

__all__ = ["merges", "stitch", "unmerge"]
