package omniseq.flink;

import org.apache.flink.connector.file.table.PartitionCommitPolicy;
import org.apache.flink.core.fs.FileStatus;
import org.apache.flink.core.fs.FileSystem;
import org.apache.flink.core.fs.Path;

/**
 * Partition commit policy of the offline store ({@code sink.partition-commit.policy.class}): gives every committed
 * part file of the partition a {@code .parquet} name, so Feast and pyarrow read the folder as Parquet. Hidden and
 * in-progress files ({@code .part-...}) are left alone; renaming is idempotent across repeated commits.
 */
public class ParquetNames implements PartitionCommitPolicy {
    @Override
    public void commit(Context context) throws Exception {
        Path dir = context.partitionPath();
        FileSystem fs = dir.getFileSystem();
        FileStatus[] files = fs.listStatus(dir);
        if (files == null) {
            return;
        }
        for (FileStatus f : files) {
            String name = f.getPath().getName();
            if (f.isDir() || name.startsWith(".") || name.startsWith("_") || name.endsWith(".parquet")) {
                continue;
            }
            fs.rename(f.getPath(), new Path(dir, name + ".parquet"));
        }
    }
}
