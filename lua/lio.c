/* lio.c -- tensors to and from files: NumPy .npy; a monotonic clock. */

#include "lember.h"

const luaL_Reg em_l_io_methods[] = { {NULL, NULL} };
const luaL_Reg em_l_io_funcs[] = { {NULL, NULL} };
