// virtio.h: virtio-blk over PCI, legacy (transitional) I/O-port interface, polled.
#pragma once
#include "disk.h"

extern const DiskDriver virtio_blk_driver;
