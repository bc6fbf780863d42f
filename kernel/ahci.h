// ahci.h: AHCI (SATA, class 01/06/01): the first port with a SATA disk, one command slot,
// polled; READ/WRITE DMA EXT move up to 4 MiB straight into the caller's frames.
#pragma once
#include "disk.h"

extern const DiskDriver ahci_driver;
