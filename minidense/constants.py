"""Project-wide contracts that data sets, tasks and metrics share."""

#: The label of a pixel whose class is unknown (PASCAL VOC's boundary band).
#: Data sets write it, tasks pass it to ``F.cross_entropy(ignore_index=...)``,
#: metrics skip it. ``F.cross_entropy`` itself keeps PyTorch's default of -100.
IGNORE_INDEX = 255
