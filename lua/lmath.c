/* lmath.c -- arithmetic, reductions and random numbers on ember.Tensor. */

#include "lember.h"

const luaL_Reg em_l_math_methods[] = { {NULL, NULL} };
const luaL_Reg em_l_math_meta[] = { {NULL, NULL} };
const luaL_Reg em_l_math_funcs[] = { {NULL, NULL} };
