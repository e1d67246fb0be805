// The headless `gigagan` command (subcommands live in training/cli*.cpp).
#include "cli.h"

int main(int argc, char** argv) { return gg::cli::main(argc, argv); }
