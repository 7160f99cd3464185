/* lnn_act.c -- Lua wrappers of the act kernels (placeholder until written). */

#include "lember.h"

const luaL_Reg em_l_nn_act[] = {
  {NULL, NULL}
};
