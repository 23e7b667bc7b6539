/* SPDX-License-Identifier: Apache-2.0 */
/* ctl_table: aifedctl's tables, laid out by libsmartcols. */
#include "ctl_table.h"

#include "ctl.h"

#include <libsmartcols.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define CTL_TABLE_COLS 32 /* more than any table has */

struct ctl_table {
    struct libscols_table *tb;
    /* For each of the caller's columns, where it is printed (-1: not). */
    int at[CTL_TABLE_COLS];
    size_t n;
};

static const char *selected;

static _Noreturn void out_of_memory(void)
{
    fprintf(stderr, "aifedctl: out of memory\n");
    exit(1);
}

void ctl_table_select(const char *columns)
{
    selected = columns;
}

size_t ctl_table_width(void)
{
    const char *env = getenv("COLUMNS");
    struct winsize ws;
    char *end;

    if (env && *env) {
        unsigned long w = strtoul(env, &end, 10);
        if (!*end && w >= 20 && w <= 10000)
            return w;
    }
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col)
        return ws.ws_col;
    return 0;
}

static int col_flags(int f)
{
    return (f & CTL_COL_RIGHT ? SCOLS_FL_RIGHT : 0) |
           (f & CTL_COL_TRUNC ? SCOLS_FL_TRUNC : 0) |
           (f & CTL_COL_WRAP ? SCOLS_FL_WRAP : 0);
}

static _Noreturn void unknown_column(const struct ctl_col *cols, size_t n,
                                     const char *name, size_t len)
{
    fprintf(stderr, "aifedctl: -o: this table has no column '%.*s'; its columns are ",
            (int)len, name);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "%s%s", i ? "," : "", cols[i].name);
    fprintf(stderr, "\n");
    exit(CTL_EXIT_USAGE);
}

/* Which column the -o word name[0..len) is, in any case. */
static size_t col_find(const struct ctl_col *cols, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(cols[i].name) == len && !strncasecmp(cols[i].name, name, len))
            return i;
    unknown_column(cols, n, name, len);
}

static void add_column(struct ctl_table *t, const struct ctl_col *c, size_t i, int *next)
{
    /* A wrapped column starts from a fifth of the width; the rest from their cells. */
    double whint = c->flags & CTL_COL_WRAP ? 0.2 : 0;

    if (t->at[i] >= 0)
        return; /* named twice in -o */
    if (!scols_table_new_column(t->tb, c->name, whint, col_flags(c->flags)))
        out_of_memory();
    t->at[i] = (*next)++;
}

static void choose_columns(struct ctl_table *t, const struct ctl_col *cols, size_t n)
{
    int next = 0;

    if (!selected) {
        for (size_t i = 0; i < n; i++)
            if (!(cols[i].flags & CTL_COL_EXTRA))
                add_column(t, &cols[i], i, &next);
        return;
    }
    for (const char *p = selected; *p;) {
        size_t len = strcspn(p, ",");
        if (len)
            add_column(t, &cols[col_find(cols, n, p, len)], col_find(cols, n, p, len),
                       &next);
        p += len + (p[len] == ',');
    }
}

struct ctl_table *ctl_table_new(const struct ctl_col *cols, size_t n)
{
    struct ctl_table *t = calloc(1, sizeof(*t));
    size_t width = ctl_table_width();

    if (!t || n > CTL_TABLE_COLS || !(t->tb = scols_new_table()))
        out_of_memory();
    t->n = n;
    for (size_t i = 0; i < n; i++)
        t->at[i] = -1;
    /* Our cells are UTF-8 already: print them as they are, not as \x escapes. */
    scols_table_enable_noencoding(t->tb, 1);
    if (width) {
        scols_table_set_termforce(t->tb, SCOLS_TERMFORCE_ALWAYS);
        scols_table_set_termwidth(t->tb, width);
    } else {
        scols_table_set_termforce(t->tb, SCOLS_TERMFORCE_NEVER);
    }
    choose_columns(t, cols, n);
    return t;
}

void ctl_table_row(struct ctl_table *t, const char *const *cells, size_t n)
{
    struct libscols_line *ln = scols_table_new_line(t->tb, NULL);

    if (!ln)
        out_of_memory();
    for (size_t i = 0; i < t->n; i++)
        if (t->at[i] >= 0 &&
            scols_line_set_data(ln, (size_t)t->at[i], i < n && cells[i] ? cells[i] : ""))
            out_of_memory();
}

void ctl_table_no_header(struct ctl_table *t)
{
    scols_table_enable_noheadings(t->tb, 1);
}

size_t ctl_table_rows(const struct ctl_table *t)
{
    return scols_table_get_nlines(t->tb);
}

void ctl_table_print(struct ctl_table *t)
{
    scols_print_table(t->tb);
    fflush(stdout);
    scols_unref_table(t->tb);
    free(t);
}
