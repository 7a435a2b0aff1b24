#include "lft.h"
