// Files that hold secrets or customer data (databases, the workflow journal, key and token files)
// are private to the account that runs the service: files mode 0600, directories 0700.
//
//   files::make_private_file("var/payment/payment.db");   // creates var/payment 0700, the file
//   0600
//
// Every process also starts with umask 077 (runtime::Service), so anything else it creates is
// private too; these functions make it so whatever the umask, and tighten files left by older
// versions.
#pragma once

#include <filesystem>
#include <string_view>

namespace wonderland::files {

/// Creates the directories of `dir` that are missing, each with mode 0700. Directories that
/// already exist are left as they are. Throws std::filesystem::filesystem_error on failure.
void create_private_directories(const std::filesystem::path& dir);

/// Makes sure `path` exists (when `create`) and has mode 0600: creates its missing parent
/// directories (0700) and the file (empty), and tightens an existing file that is readable or
/// writable by others. Returns whether the file exists afterwards. Throws
/// std::filesystem::filesystem_error when it cannot create or tighten it.
bool make_private_file(const std::filesystem::path& path, bool create = true);

/// What write_private_file does with a file that is already there.
enum class Existing {
  kKeep,     ///< leave it untouched and return false (e.g. a key made by another process)
  kReplace,  ///< overwrite it
};

/// Writes `bytes` to `path` as a private file (0600; missing parent directories 0700), flushed
/// to disk, never through a symbolic link at `path` (one there is replaced, not followed), and
/// never seen half written: it is written under a temporary name and then linked or renamed
/// into place. Returns false only for an existing file
/// with Existing::kKeep. A file that could not be written whole is removed. Throws
/// std::filesystem::filesystem_error on failure.
bool write_private_file(const std::filesystem::path& path, std::string_view bytes,
                        Existing existing);

/// Sets mode 0600 on `path` when it exists (a database's `-wal` and `-shm`, for example);
/// returns whether it existed.
bool tighten_if_exists(const std::filesystem::path& path);

}  // namespace wonderland::files
