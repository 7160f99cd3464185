/* lnn_pool.c -- Lua wrappers of the pool kernels (placeholder until written). */

#include "lember.h"

const luaL_Reg em_l_nn_pool[] = {
  {NULL, NULL}
};
