namespace Kiln.Tests.Bisect;

/// <summary>
/// A bisect step command for driver tests: runs <paramref name="decide"/> (sh; its exit status is the verdict, as git
/// bisect run reads it) in the worktree and appends the step record Kiln's own step would, so the driver reads its ends
/// and its revert check back as it does in a real bisect. No kernel is built.
/// </summary>
public static class FakeStep
{
    public static IReadOnlyList<string> Command(string decide, string stepsFile) =>
    [
        "sh", "-c", $$"""
            ( {{decide}} ); rc=$?
            case $rc in 0) v=good;; 125) v=skip;; *) if [ $rc -lt 128 ]; then v=bad; else v=abort; fi;; esac
            n=$(( $(cat '{{stepsFile}}' 2>/dev/null | wc -l) + 1 ))
            p=0; [ $v = good ] && p=1
            printf '{"number":%d,"sha":"%s","subject":"%s","verdict":"%s","exitCode":%d,"phase":"boot","message":"decided %s","boots":1,"passes":%d}\n' \
              "$n" "$(git rev-parse HEAD)" "$(git log -1 --format=%s)" "$v" "$rc" "$v" "$p" >> '{{stepsFile}}'
            exit $rc
            """,
    ];
}
