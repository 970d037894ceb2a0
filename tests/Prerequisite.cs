using NUnit.Framework;

namespace Kiln.Tests;

/// <summary>
/// A test that needs a program, a package or root: on a developer's machine that lacks it the test is skipped
/// with the reason; under .ci/run, which installs every one of them (KILN_CI_PREREQUISITES=installed), it fails,
/// because a skip there means an install step broke and the suite would pass with a hole in it.
/// </summary>
public static class Prerequisite
{
    public const string CiVariable = "KILN_CI_PREREQUISITES";

    public static void Require(bool present, string missing)
    {
        if (present) return;
        if (Environment.GetEnvironmentVariable(CiVariable) == "installed")
            Assert.Fail($"{missing}, but .ci/run installs it ({CiVariable}=installed): its install step failed");
        Assert.Ignore(missing);
    }
}
