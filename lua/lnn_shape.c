/* lnn_shape.c -- Lua wrappers of the shape kernels (placeholder until written). */

#include "lember.h"

const luaL_Reg em_l_nn_shape[] = {
  {NULL, NULL}
};
