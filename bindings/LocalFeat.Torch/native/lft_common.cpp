#include "lft_internal.h"

#include <cstdlib>

namespace {
thread_local std::string last_error;
}

void lft::set_error(std::string message) { last_error = std::move(message); }

extern "C" {

const char* lft_last_error(void) { return last_error.c_str(); }

void lft_free(void* p) { std::free(p); }

}
