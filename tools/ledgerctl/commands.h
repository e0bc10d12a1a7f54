// ledgerctl's commands, one file each (ledgerctl.cc reads the arguments
// and calls one). Each returns the process's exit code (ledgerctl --help).
#pragma once

#include "common.h"

namespace ledgerctl {

int Verify(const Args& a);    // verify.cc
int Export(const Args& a);    // export.cc
int Replay(const Args& a);    // views.cc
int Diff(const Args& a);      // views.cc
int Timeline(const Args& a);  // timeline.cc
int Proof(const Args& a);     // proof.cc
int Import(const Args& a);    // import.cc
int Generate(const Args& a);  // generate.cc
int Key(const Args& a);       // key.cc
int Witness(const Args& a);   // witness.cc
int Backup(const Args& a);    // backup.cc
int Restore(const Args& a);   // backup.cc
int Control(const Args& a);   // promote.cc: promote and status

}  // namespace ledgerctl
