package Squid::Report;
# Report queries shared by the CGI pages and the nightly job.
use strict;
use warnings;

use constant {
    TABLE_DAILY => 'access_daily',
    TOP_N       => 20,
};

=pod

Usage: my $rows = Squid::Report::top_clients($dbh, '2026-11-01', '2026-11-30');

=cut

sub top_clients {
    my ($dbh, $from, $to, %opt) = @_;
    my $sql = "SELECT client_ip, SUM(requests) AS requests FROM " . TABLE_DAILY;
    $sql .= " WHERE day BETWEEN ? AND ?";
    $sql .= " AND client_ip LIKE ?" if $opt{prefix};
    unless ($opt{all}) {
        $sql .= " AND requests > 0";
    }
    $sql .= " GROUP BY client_ip ORDER BY requests DESC LIMIT " . TOP_N;
    return $dbh->selectall_arrayref($sql, { Slice => {} }, $from, $to);
}

sub purge_before {
    my ($dbh, $day) = @_;
    my $sth = $dbh->prepare(q{DELETE FROM access_daily WHERE day < ?});
    return $sth->execute($day);
}

sub by_table {
    my ($dbh, $table) = @_;
    return $dbh->selectall_arrayref("SELECT COUNT(*) FROM $table");
}

sub by_status {
    my ($dbh, $status) = @_;
    return $dbh->selectrow_array(
        'SELECT COUNT(*) FROM ' . TABLE_MONTHLY . ' WHERE http_status = ' . int($status));
}

1;
