/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl_table: aifedctl's tables for people, laid out by libsmartcols (the
 * library behind lsblk and findmnt): each column as wide as its widest cell,
 * the whole fitted to the terminal, long text wrapped in its own column, and
 * the columns chosen with -o as lsblk's -o chooses them. --json does not pass
 * through here: it prints every field whatever -o says.
 */
#ifndef CTL_TABLE_H
#define CTL_TABLE_H

#include <stddef.h>

/* How a column gives way when the table is wider than the terminal. */
enum {
    CTL_COL_RIGHT = 1 << 0, /* numbers: aligned right */
    CTL_COL_TRUNC = 1 << 1, /* cut to fit (names that are also shown whole elsewhere) */
    CTL_COL_WRAP = 1 << 2,  /* long text: wrapped onto more lines, never cut */
    CTL_COL_EXTRA = 1 << 3, /* shown only when -o names it */
};

struct ctl_col {
    const char *name; /* the header; -o takes it in any case */
    int flags;
};

struct ctl_table;

/* The column choice for every table this run prints (-o A,B,C), or NULL for
 * each table's default columns. Checked against each table when printed. */
void ctl_table_select(const char *columns);

/* A table with n columns; NULL only when out of memory, said on stderr. */
struct ctl_table *ctl_table_new(const struct ctl_col *cols, size_t n);
/* A row: n cells, one per column in the columns' order; a NULL cell, or
 * one past n, prints empty. CTL_TABLE_ROW(t, "a", "b") counts them. */
void ctl_table_row(struct ctl_table *t, const char *const *cells, size_t n);
#define CTL_TABLE_ROW(t, ...)                                                            \
    ctl_table_row((t), (const char *const[]){__VA_ARGS__},                               \
                  sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))
/* Leave the header out (a long listing printed in parts: the first has it). */
void ctl_table_no_header(struct ctl_table *t);
/* How many rows the table holds. */
size_t ctl_table_rows(const struct ctl_table *t);
/* Print the table on stdout and free it. A -o naming a column the table does
 * not have is bad usage: said with the table's columns, and aifedctl exits 2
 * (a table is the last thing a command prints, so nothing is left undone). */
void ctl_table_print(struct ctl_table *t);

/* The width tables are fitted to: $COLUMNS, else the terminal's, else none
 * (0: output to a pipe or file keeps whole cells on one line for grep). */
size_t ctl_table_width(void);

#endif
