import Glibc
import SvBase
import SvSystem

/// A client's `limits` file: cgroup v2 settings in the kernel's own names and syntax, one
/// `key value` a line (`memory.max 512M`, `pids.max 256`, `cpu.weight 50`, `io.weight 50`),
/// written into the entry's cgroup (its service and logger, and for a client everything its
/// svtree runs) when it starts and on SIGHUP. The kernel judges the values; svtree checks the
/// keys and that their controllers are there, and says each problem in one line.
enum CgroupLimits {
    /// The keys accepted, by controller: what bounds a client (memory, tasks, CPU and disk share).
    static let keys: [String: String] = [
        "memory.max": "memory", "memory.high": "memory", "memory.low": "memory", "memory.min": "memory",
        "memory.swap.max": "memory", "pids.max": "pids", "cpu.max": "cpu", "cpu.weight": "cpu",
        "io.max": "io", "io.weight": "io", "cpuset.cpus": "cpuset", "cpuset.mems": "cpuset",
    ]

    /// The settings of a `limits` text, in order, and a line for each line refused.
    static func parse(_ text: String) -> (settings: [(key: String, value: String)], problems: [String]) {
        var settings: [(String, String)] = []
        var problems: [String] = []
        for raw in text.split(separator: "\n") {
            let line = String(raw).trimmingSpaces()
            if line.isEmpty || line.hasPrefix("#") { continue }
            let words = line.split(separator: " ", maxSplits: 1).map { String($0).trimmingSpaces() }
            guard words.count == 2, !words[1].isEmpty else {
                problems.append("\"\(line)\": not a \"key value\" line")
                continue
            }
            guard keys[words[0]] != nil else {
                problems.append("\(words[0]): not a known cgroup v2 limit (\(keys.keys.sorted().joined(separator: ", ")))")
                continue
            }
            settings.append((words[0], words[1]))
        }
        return (settings, problems)
    }

    /// Writes the settings into `cgroup`, first enabling their controllers in `parent`'s
    /// `cgroup.subtree_control` (one write for all); returns a line for each one not applied.
    static func apply(_ settings: [(key: String, value: String)], cgroup: String, parent: String) -> [String] {
        let available = Set((FileSystem.readLine(parent + "/cgroup.controllers") ?? "").split(separator: " ").map(String.init))
        let enabled = Set((FileSystem.readLine(parent + "/cgroup.subtree_control") ?? "").split(separator: " ").map(String.init))
        var problems: [String] = []
        var usable: [(key: String, value: String)] = []
        for setting in settings {
            let controller = keys[setting.key] ?? ""
            if available.contains(controller) {
                usable.append(setting)
            } else {
                problems.append("\(setting.key): the \(controller) controller is not available here "
                    + "(\(parent)/cgroup.controllers: \(available.isEmpty ? "none" : available.sorted().joined(separator: " ")))")
            }
        }
        let missing = Set(usable.compactMap { keys[$0.key] }).subtracting(enabled).sorted()
        if !missing.isEmpty, !CgroupTree.write(missing.map { "+" + $0 }.joined(separator: " "), to: parent + "/cgroup.subtree_control") {
            let error = FileSystem.lastErrno
            return problems + ["cannot enable \(missing.joined(separator: ", ")) in \(parent)/cgroup.subtree_control (\(error))"]
        }
        for (key, value) in usable where !CgroupTree.write(value, to: cgroup + "/" + key) {
            let error = FileSystem.lastErrno
            problems.append(error == .noSuchFileOrDirectory ? "\(key): not a setting of this kernel"
                            : "\(key) \(value): refused by the kernel (\(error))")
        }
        return problems
    }
}
