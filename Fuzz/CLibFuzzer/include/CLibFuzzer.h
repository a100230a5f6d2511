// libFuzzer's entry point for a program with its own main (LLVM's "Using libFuzzer as a library"): the Swift
// fuzz targets have one, because the package manager links every executable through a main of its own.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*UserCb)(const uint8_t *Data, size_t Size));
