// The headless `gigagan` command (one file a subcommand in cli/).
#include "cli.h"

int main(int argc, char** argv) { return gg::cli::main(argc, argv); }
