// Declarations only (include/CLibFuzzer.h); the definition comes from the toolchain's libFuzzer runtime.
