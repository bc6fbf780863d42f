// nvme.h: NVMe over PCI (class 01/08/02): namespace 1 through one admin and one I/O queue
// pair, polled, with PRP lists so one command moves up to 1 MiB straight into the caller's
// frames. 512-byte and 4 KiB logical blocks.
#pragma once
#include "disk.h"

extern const DiskDriver nvme_driver;
