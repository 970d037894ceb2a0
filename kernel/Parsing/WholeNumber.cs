using System.Globalization;

namespace Kiln.Kernel.Parsing;

/// <summary>
/// Reads a whole number from text Kiln did not write (arguments, patch names and hunk headers, Makefiles, tool
/// output): ASCII digits only, no sign or spaces, and within a stated range, so a number that overflows or that no
/// caller could mean is a "no" the caller turns into a message rather than an OverflowException.
/// </summary>
public static class WholeNumber
{
    public static bool TryParse(ReadOnlySpan<char> text, long minimum, long maximum, out long value) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value >= minimum && value <= maximum;

    public static bool TryParse(ReadOnlySpan<char> text, int minimum, int maximum, out int value)
    {
        var ok = TryParse(text, (long)minimum, maximum, out long wide);
        value = ok ? (int)wide : 0;
        return ok;
    }

    /// <summary>The number, or null when <paramref name="text"/> is not one within the range.</summary>
    public static int? Parse(ReadOnlySpan<char> text, int minimum = 0, int maximum = int.MaxValue) =>
        TryParse(text, minimum, maximum, out int value) ? value : null;
}
