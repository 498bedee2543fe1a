/* ir.c: placeholder */
