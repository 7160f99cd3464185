/* lnn_conv.c -- Lua wrappers of the conv kernels (placeholder until written). */

#include "lember.h"

const luaL_Reg em_l_nn_conv[] = {
  {NULL, NULL}
};
