# The FAT16 library's source files, relative to kernel/fat16 (one list for the kernel's
# own build and the host library; scripts/fuzz.sh takes every kernel/fat16/*.cpp).
set(FAT16_SOURCE_NAMES volume.cpp names.cpp dir.cpp file.cpp repair.cpp)
