// Giving memory back to the system.
#pragma once
#include <cstddef>

namespace bf {

// Drops this process's pages of a read-only file mapping inside [p, p + n) (whole
// pages only). Reading them again faults them back in from the file, so the data is
// unchanged; the caller must know the range is a clean file mapping, never heap memory.
void drop_file_pages(const void* p, size_t n);

}  // namespace bf
