/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jobscript: the shell script a job runs, for both executors (sbatch's
 * batch script at a Slurm site, the demo executor's script elsewhere). It
 * runs in the job's directory, which the job helper made fresh as the
 * job's account before the script existed (so the script only enters it),
 * puts the task's files there, runs setup and run (inside the image, with
 * Apptainer, when there is one), appends everything to output.log and
 * leaves the exit code in .aifed-exit.
 */
#ifndef JOBSCRIPT_H
#define JOBSCRIPT_H

struct Aifed__Job;

/* The script for job in dir; where names how it runs, for its first line
 * of output (a shell expression in double quotes is expanded). A malloc'd
 * string, or NULL (out of memory). */
char *jobscript_for(const struct Aifed__Job *job, const char *dir, const char *where);

#endif
