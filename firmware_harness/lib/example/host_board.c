/* Host build of the example (gcc): the console is stdout. */
#include <stdio.h>
#include <stdlib.h>

void example_putc(int c) { putchar(c); }
void example_exit(int code)
{
    fflush(stdout);
    exit(code);
}
