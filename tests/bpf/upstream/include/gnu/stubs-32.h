/* pybpfman test build: glibc's <gnu/stubs.h> picks the 32-bit stub list for the
 * bpf target (not __x86_64__); that file comes only with libc6-dev-i386. The
 * stub list only marks unimplemented libc functions, none of which BPF code calls. */
