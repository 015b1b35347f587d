// Linux headers the Glibc module leaves out.
#include <sys/vfs.h>
