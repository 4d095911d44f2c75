/* keeps the test-support library non-empty */
typedef int strom_test_support_empty;
